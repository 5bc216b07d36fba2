"""attacks.md #5 - an infinite loop at import: the notebook never finishes running."""

while True:
    pass
