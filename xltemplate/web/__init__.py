"""The collection portal: a web application over the engine and the collection rounds.

The pages and the JSON API are a thin layer: every decision (what a file is, where a return
belongs, who may log in, which link reaches which department, how a job is claimed) is made by
the plain modules of :mod:`xltemplate.collect`, which the command line uses as well.
"""
