"""How runs execute their steps."""

import dagster as dg

# Runs execute their steps in processes of their own. forkserver imports the code location once per run and forks
# each step from it, instead of importing it again for every step (seconds per step on a small machine).
EXECUTOR = dg.multiprocess_executor.configured({"start_method": {"forkserver": {}}})
