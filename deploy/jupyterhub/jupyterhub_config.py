"""JupyterHub for the course: one hub, one Jupyter server per student, run as the student's own Unix account.

Students log in with their Unix password (PAM), fetch, validate and submit in nbgrader's Assignments list; the
instructor collects and grades from the course folder in a shell (README, "Running the course on JupyterHub").
`deploy/jupyterhub/setup-host.sh` prepares the machine (exchange, the students' nbgrader_config.py, the Validate
extension). Run the hub as root, from the course's students' venv (it starts each student's server with setuid):

    cd /srv/jupyterhub && /opt/cnn-course/venv/bin/jupyterhub -f /opt/cnn-course/deploy/jupyterhub/jupyterhub_config.py

tests/test_jupyterhub.py runs this file unchanged; it overrides on the command line only the ports, the hub's
state files and JUPYTER_CONFIG_PATH (the folder setup-host.sh filled, a temporary one there).
"""

import sys
from pathlib import Path

c = get_config()  # type: ignore[name-defined]  # noqa: F821  (provided by traitlets when it loads this file)

# Where it listens. Behind a TLS reverse proxy (nginx, Caddy) on the same machine; or give the hub the
# certificate itself: c.JupyterHub.ssl_cert / ssl_key, and bind_url "https://:443".
c.JupyterHub.bind_url = "http://127.0.0.1:8000"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:8081"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:8001"

# The hub's own state (users, servers, tokens): not the course's, not readable by students
c.JupyterHub.db_url = "sqlite:////srv/jupyterhub/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "/srv/jupyterhub/jupyterhub_cookie_secret"
c.ConfigurableHTTPProxy.pid_file = "/srv/jupyterhub/jupyterhub-proxy.pid"

# Who logs in: the machine's Unix accounts (PAM), members of the course's group. nbgrader's exchange knows a
# student by the Unix user name that runs their server, so the student id in the gradebook is that name.
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.allowed_groups = {"cnn-students"}

# Each student's server: a local process as that student (the hub's setuid), in their home folder.
c.JupyterHub.spawner_class = "localprocess"
# The single-user server of the venv the hub runs from: the same nbgrader, notebook and autograder for everyone
c.Spawner.cmd = [str(Path(sys.executable).with_name("jupyterhub-singleuser"))]
c.Spawner.notebook_dir = "~"
c.Spawner.default_url = "/tree"  # Notebook 7 (Assignments: menu Nbgrader > Assignment List); "/lab" works too
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 60
