"""Autograder for the course Introduction to Convolutional Neural Networks."""

import sys

# nbformat validates notebooks with jsonschema, which imports rfc3987_syntax (when installed, as Jupyter's
# jupyter-events brings it) only to offer an "iri" format check that no notebook schema uses. That import
# compiles a grammar: about 1 s of every command, grader process and nbgrader step that starts here.
# Marked absent before nbformat is first imported, jsonschema simply offers no "iri" check.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
