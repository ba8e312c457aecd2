"""Every asset key and run tag the definitions are built around, in one place: the raw keys equal dbt's source keys
(so lineage joins up), the marts are dbt's model names."""

import dagster as dg

LANDED_PAGES_KEY = dg.AssetKey(["amazon_sp_api", "landed_order_pages"])
ORDER_PAGES_KEY = dg.AssetKey(["amazon_sp_api", "order_pages"])
ORDER_RECORDS_KEY = dg.AssetKey(["amazon_sp_api", "order_records"])
RAW_KEYS = (LANDED_PAGES_KEY, ORDER_PAGES_KEY, ORDER_RECORDS_KEY)

# The money after the sale (docs/money.md): a posted day's listTransactions reads, landed and loaded.
LANDED_TRANSACTIONS_KEY = dg.AssetKey(["amazon_sp_api", "landed_transaction_pages"])
TRANSACTION_PAGES_KEY = dg.AssetKey(["amazon_sp_api", "transaction_pages"])
TRANSACTION_RECORDS_KEY = dg.AssetKey(["amazon_sp_api", "transaction_records"])
FINANCE_RAW_KEYS = (LANDED_TRANSACTIONS_KEY, TRANSACTION_PAGES_KEY, TRANSACTION_RECORDS_KEY)
SETTLEMENT_REPORTS_KEY = dg.AssetKey(["amazon_sp_api", "settlement_reports"])
SETTLEMENT_ROWS_KEY = dg.AssetKey(["amazon_sp_api", "settlement_rows"])
FINANCES_GROUP = "finances"
ORDER_FINANCIALS = dg.AssetKey(["order_financials"])
SETTLEMENTS = dg.AssetKey(["settlements"])
SETTLEMENT_LINES = dg.AssetKey(["settlement_lines"])
MONEY_EXPORT_KEY = dg.AssetKey(["order_financials_export"])
JOURNAL_EXPORT_KEY = dg.AssetKey(["erp_settlement_journals"])

# Returns (docs/returns.md): the two returns reports' windows, landed and loaded.
LANDED_RETURNS_KEY = dg.AssetKey(["amazon_sp_api", "landed_return_reports"])
RETURN_REPORTS_KEY = dg.AssetKey(["amazon_sp_api", "return_reports"])
RETURN_ROWS_KEY = dg.AssetKey(["amazon_sp_api", "return_rows"])
RETURN_RAW_KEYS = (LANDED_RETURNS_KEY, RETURN_REPORTS_KEY, RETURN_ROWS_KEY)
RETURNS_GROUP = "returns"
ORDER_RETURNS = dg.AssetKey(["order_returns"])
RETURN_EXPORT_KEY = dg.AssetKey(["order_returns_export"])

ORDERS = dg.AssetKey(["orders"])
ORDER_ITEMS = dg.AssetKey(["order_items"])
ORDER_ADDRESSES = dg.AssetKey(["order_addresses"])
ORDER_PACKAGES = dg.AssetKey(["order_packages"])
ORDER_TAX_REGISTRATIONS = dg.AssetKey(["order_tax_registrations"])

SALESFORCE_EXPORT_KEY = dg.AssetKey(["salesforce_order_export"])
ERP_EXPORT_KEY = dg.AssetKey(["erp_sales_order_export"])
EXPORT_KEYS = (SALESFORCE_EXPORT_KEY, ERP_EXPORT_KEY)

WRITEBACK_KEY = dg.AssetKey(["mfn_writeback"])
MCF_KEY = dg.AssetKey(["fba_fulfillment_orders"])

# The run tag that says how the extract step gets its partitions' orders (extract/plan.py: EXTRACT_MODES).
EXTRACT_MODE_TAG = "amazon_orders/extract"
# With mode `orders`: the ORDER_CHANGE batch (notifications/inbox.py) whose orders the run reads with getOrder.
ORDER_BATCH_TAG = "amazon_orders/order_batch"
