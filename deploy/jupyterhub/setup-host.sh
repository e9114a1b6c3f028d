#!/usr/bin/env bash
# Prepares the hub machine for the course (run as root, once; again after editing nbgrader_config.py):
#   - the Unix group whose members may log in (jupyterhub_config.py: PAMAuthenticator.allowed_groups)
#   - nbgrader's exchange: a folder every account can write (nbgrader's own advice: ugo+rwx); the instructor's
#     `release_assignment` creates <exchange>/<course_id>/ in it with the permissions students need
#     (outbound/ readable, inbound/ writable but not listable, feedback/ reachable by its hashed names only)
#   - the students' global Jupyter config: nbgrader_config.py (course id, exchange) and the server extension
#     autograder.student_server, which makes nbgrader's Validate button show the course's visible checks
# Paths (environment variables, these defaults):
#   VENV=/opt/cnn-course/venv       the venv the hub and every student's server run from
#   EXCHANGE=/srv/nbgrader/exchange nbgrader's Exchange.root
#   CONFIG_DIR=/etc/jupyter         a folder on every student server's Jupyter config path
#   GROUP=cnn-students              the course's Unix group
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
VENV=${VENV:-/opt/cnn-course/venv}
EXCHANGE=${EXCHANGE:-/srv/nbgrader/exchange}
CONFIG_DIR=${CONFIG_DIR:-/etc/jupyter}
GROUP=${GROUP:-cnn-students}
if [ "$(id -u)" != 0 ]; then
    echo "error: run as root (it creates the exchange and the students' Jupyter config)" >&2
    exit 2
fi
if ! "$VENV/bin/python" -c "import autograder.student_server, jupyterhub, nbgrader" 2>/dev/null; then
    echo "error: $VENV lacks autograder (with autograder.student_server), jupyterhub or nbgrader;" \
         "install them: $VENV/bin/pip install -c constraints.txt . jupyterhub (from the course's checkout)" >&2
    exit 2
fi
getent group "$GROUP" >/dev/null || groupadd "$GROUP"
install -d -m 0755 "$(dirname "$EXCHANGE")"
install -d -m 0777 "$EXCHANGE"
install -d -m 0755 "$CONFIG_DIR"
sed "s|\"/srv/nbgrader/exchange\"|\"$EXCHANGE\"|" "$here/nbgrader_config.py" > "$CONFIG_DIR/nbgrader_config.py"
chmod 0644 "$CONFIG_DIR/nbgrader_config.py"
# Installing the package already enables the extension in its venv (etc/jupyter/jupyter_server_config.d/
# autograder.json); enabling it in the students' global folder too keeps Validate on whatever venv serves them.
# (--user writes into JUPYTER_CONFIG_DIR; `jupyter server extension enable --sys-prefix` is the venv's equivalent.)
JUPYTER_CONFIG_DIR="$CONFIG_DIR" "$VENV/bin/jupyter" server extension enable --user autograder.student_server
chmod -R a+rX "$CONFIG_DIR"
echo "ready: exchange $EXCHANGE, students' Jupyter config $CONFIG_DIR, group $GROUP"
