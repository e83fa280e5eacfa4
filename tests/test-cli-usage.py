#!/usr/bin/python3
"""Flag combinations and missing paths that the tools must refuse with a
message instead of picking something silently. No network, no root."""
import os
import subprocess
import sys
import tempfile

import pytest

BUILD = os.environ.get('PK_BUILDDIR') or 'build'


def run(tool, *args):
    env = {k: v for k, v in os.environ.items() if k not in ('PROXYKIT_CONFIG', 'NOTIFY_SOCKET')}
    with tempfile.NamedTemporaryFile('w', suffix='.conf') as conf:
        env['PROXYKIT_CONFIG'] = conf.name
        return subprocess.run([os.path.join(BUILD, 'cli', tool), *args], capture_output=True,
                              text=True, timeout=30, env=env)


def test_watchdog_status_without_state_dir():
    with tempfile.TemporaryDirectory() as tmp:
        missing = os.path.join(tmp, 'no-such-dir')
        p = run('pk-watchdog', '--status', '--state-dir', missing)
        assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
        assert missing in p.stderr and 'does not exist' in p.stderr
        assert p.stdout == ''
        # An existing, empty one is no nodes: the header only.
        p = run('pk-watchdog', '--status', '--state-dir', tmp)
        assert p.returncode == 0, p.stderr


def test_metrics_json_and_prometheus_exclude_each_other():
    p = run('pk-metrics', '--json', '--prometheus')
    assert p.returncode == 2, (p.returncode, p.stdout[:200], p.stderr)
    assert '--json' in p.stderr and '--prometheus' in p.stderr
    assert p.stdout == ''


if __name__ == '__main__':
    sys.exit(pytest.main([__file__, '-q', '-p', 'no:cacheprovider']))
