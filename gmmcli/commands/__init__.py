"""One module per command family: option parsing and rendering only, no maths."""
