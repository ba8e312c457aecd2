"""The merchant's own shipments (confirmShipment) and cancellations (the order acknowledgement feed) of
merchant-fulfilled orders, from the ERP's files."""
