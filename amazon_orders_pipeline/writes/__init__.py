"""The writes to Amazon, no Dagster: request files dropped by another system (inbox.py, lines.py), recorded in a
ledger before and after anything is sent (ledger.py), then one pass per API with the same inner names on both
sides: mfn/ (the merchant's shipments and cancellations) and mcf/ (a web shop's orders to Amazon's fulfilment)."""
