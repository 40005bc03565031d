"""Project budgets (Implementation Measures Art. 15, 16, 33–38): exact money, to the fen.

- :mod:`spatial.budget.money`: yuan as ``Decimal``, the one rounding rule, largest-remainder
  allocation;
- :mod:`spatial.budget.rates`: the percentages of Art. 33–35 and 38, with their articles;
- :mod:`spatial.budget.plan`: a budget (total compensation cost, Art. 15(三)) from direct
  compensation and technical-support fees;
- :mod:`spatial.budget.exemption`: the Art. 16 rule (200 万元以下 may skip the budget plan);
- :mod:`spatial.budget.items`: compensation items, entered or read from an Excel sheet;
- :mod:`spatial.budget.store`: budget versions in the database;
- :mod:`spatial.budget.pool`: the Art. 36 adjustment pool of 50,000,000 yuan.
"""
