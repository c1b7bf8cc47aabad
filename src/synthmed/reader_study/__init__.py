"""Reader study ("visual Turing test"): readers judge a shuffled mix of real and synthetic images.

``create`` builds a study folder (identically re-encoded images under random ids, truth only in the
database), ``serve`` runs the web app, ``invite`` adds readers, ``results`` prints the per-reader tables
and agreement statistics.
"""
