"""Every file marketreact writes: result tables, plots, reports, all-or-nothing folders.

Floor: above study and backtest (it takes their results); below the CLI only.
"""
