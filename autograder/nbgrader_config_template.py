"""nbgrader's configuration for this course.

`nbgrader ...` commands, the formgrader (start Jupyter from this folder) and `autograder` all read it.
`configure` (autograder/nbgrader_bridge.py) makes this folder an nbgrader course whose autograde step
takes its scores from the autograder's sandbox instead of running student notebooks: source_directory
solutions/, release_directory assignments/, the gradebook gradebook.db (30 s lock timeout), the course
id and late penalty from course.yml. Add your own settings below it (e.g. the exchange folder for
`nbgrader release_assignment` and `collect`, or a Postgres db_url for several TAs at once).
"""

from autograder.nbgrader_bridge import configure

c = get_config()  # type: ignore[name-defined]  # noqa: F821  (provided by traitlets when it loads this file)
configure(c, __file__)

# c.Exchange.root = "/srv/nbgrader/exchange"
