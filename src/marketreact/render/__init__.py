"""Text, HTML and figures drawn from frames and plain values.

Imports no result class and writes no file: results call in here (``summary()``,
``plot()``, ``_repr_html_``) and :mod:`marketreact.output` saves what it draws.
"""
