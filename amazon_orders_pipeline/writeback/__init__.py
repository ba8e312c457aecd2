"""Write-back for merchant-fulfilled orders: the ERP's shipments and cancellations, read from files in an inbox,
checked against the marts, and sent to Amazon exactly once (confirmShipment; the order acknowledgement feed).

- erp_files.py: the input files (CSV and JSON Lines), line by line, with an outcome for each;
- carriers.py: the ERP's carrier names to Amazon's carrier codes (a mapping file);
- outbox.py: the requests and their states in DuckDB (schema `writeback`);
- guard.py: what must hold in the marts before a request is sent;
- ack_feed.py: the cancellation feed's XML and its processing report;
- run.py: one pass: take in the inbox, guard, send, follow the feeds, close the loop."""
