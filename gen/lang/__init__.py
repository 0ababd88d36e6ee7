"""The language room: the parse tree, shapes and the layout rule, LaTeX, one identity's forms."""
