"""Clean mart rows -> loader-ready files for CRM and ERP systems. Plain Python: no Dagster, no database."""
