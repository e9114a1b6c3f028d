"""nbgrader's configuration for every student's Jupyter server (the global one: setup-host.sh installs it as
/etc/jupyter/nbgrader_config.py). Students have no course folder: nbgrader's Assignments list, `fetch`,
`submit`, `validate` and `fetch_feedback` need only the course id and the exchange."""

c = get_config()  # type: ignore[name-defined]  # noqa: F821  (provided by traitlets when it loads this file)

c.CourseDirectory.course_id = "intro-to-cnn"  # course.yml's course_id
c.Exchange.root = "/srv/nbgrader/exchange"    # the same folder as in the instructor's course nbgrader_config.py
