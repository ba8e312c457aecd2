"""Multi-Channel Fulfillment: a web shop's own orders, shipped by Amazon from the seller's FBA inventory through the
Fulfillment Outbound API, exactly once, and their tracking back to the shop.

- storefront.py: the shop's order files (JSON Lines), line by line, and the id each order gets at Amazon;
- config.py: which account fulfils, shipping speeds and SKUs (a mapping file, like the exports');
- outbound.py: the Fulfillment Outbound client behind an interface (2020-07-01 now; 2026-07-04 can follow);
- store.py: the `mcf` schema: the inbox ledger, one row per storefront order, and its packages;
- run.py: one pass: take in the inbox, preview, create (read back before any resend), cancel, track."""
