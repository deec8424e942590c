#!/usr/bin/python3
"""Reads an XLSX file with openpyxl (an independent reader) and prints what the tests check as JSON:
per sheet its name, frozen pane, autofilter range, dimensions and every cell as
[value, data_type, number_format]."""
import json
import sys

import openpyxl

wb = openpyxl.load_workbook(sys.argv[1])
out = {"sheets": []}
for ws in wb.worksheets:
    cells = []
    for row in ws.iter_rows():
        cells.append([[c.value, c.data_type, c.number_format] for c in row])
    out["sheets"].append({
        "name": ws.title,
        "freeze_panes": ws.freeze_panes,
        "auto_filter": ws.auto_filter.ref,
        "max_row": ws.max_row,
        "max_column": ws.max_column,
        "widths": {k: v.width for k, v in ws.column_dimensions.items()},
        "cells": cells,
    })
json.dump(out, sys.stdout, ensure_ascii=False)
