"""Multi-Channel Fulfillment: a web shop's orders sent to Amazon's fulfilment network, cancelled and tracked."""
