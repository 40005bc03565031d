"""Media types of the files the API answers with (one spelling each)."""

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
"""An Excel workbook (.xlsx): review, procedure ledger, upload report, audit log, map export."""
