"""The workbook layer: what a file is (guard), reading returns (reader), writing templates (writer)."""
