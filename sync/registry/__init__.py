"""The household registry: submissions normalized into households, members and assessment history.

``normalize`` turns one submission into history rows and flags; ``households`` derives each household's
current state from its history; ``clearance`` counts the open problems of an area as of a date;
``entities`` serves the ``households`` entity list to phones and Central's entity API; ``rebuild``
recomputes everything from the stored submissions.
"""
