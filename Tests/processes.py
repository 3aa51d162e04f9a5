"""Child processes of the Python suites."""
import subprocess


def stop(process, timeout=30):
    """Asks the process to end (SIGTERM, which `muse serve` answers by finishing its requests) and
    kills it if it has not ended within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
