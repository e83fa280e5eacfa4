#!/usr/bin/python3
"""data/prometheus as an operator deploys it (issue 17):

- both scrape configurations (static and file_sd, with their target files)
  and the rules pass promtool check config / check rules;
- every alert fires and stays quiet where it should (promtool test rules,
  data/prometheus/tests);
- the Alertmanager example passes amtool check-config;
- every series the rules read is one the tools export: pk-metrics'
  /metrics (taken from the built tool on this host) or pk-toggle's, so that
  a renamed metric cannot leave a rule that never fires."""
import os
import re
import shutil
import subprocess

import pytest
import yaml

SRCDIR = os.environ.get('PK_SRCDIR', os.path.join(os.path.dirname(__file__), '..'))
BUILD = os.environ.get('PK_BUILDDIR', os.path.join(SRCDIR, 'build'))
PROM = os.path.join(SRCDIR, 'data', 'prometheus')
PROMTOOL = shutil.which('promtool')
AMTOOL = shutil.which('amtool')

needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason='promtool not installed (Debian package prometheus)')


def run(argv, cwd=PROM):
    out = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout + out.stderr


@needs_promtool
@pytest.mark.parametrize('config', ['prometheus.yml', 'prometheus-file-sd.yml'])
def test_scrape_configuration_checks(config):
    out = run([PROMTOOL, 'check', 'config', config])
    assert 'proxykit-rules.yml' in out


@needs_promtool
def test_rules_check():
    run([PROMTOOL, 'check', 'rules', 'proxykit-rules.yml'])


@needs_promtool
def test_every_alert_has_a_unit_test_and_they_pass():
    rules = yaml.safe_load(open(os.path.join(PROM, 'proxykit-rules.yml')))
    alerts = {r['alert'] for g in rules['groups'] for r in g['rules'] if 'alert' in r}
    tests = yaml.safe_load(open(os.path.join(PROM, 'tests', 'proxykit-rules.test.yml')))
    firing, quiet = set(), set()
    for t in tests['tests']:
        for case in t.get('alert_rule_test', []):
            (firing if case['exp_alerts'] else quiet).add(case['alertname'])
    assert alerts <= firing, 'never tested firing: %s' % sorted(alerts - firing)
    # Each test holds an instance (or a dongle, a node) that must stay quiet
    # next to the one that fires: exp_alerts lists exactly what fires.
    assert len(alerts) == 10, sorted(alerts)
    run([PROMTOOL, 'test', 'rules', os.path.join('tests', 'proxykit-rules.test.yml')])


@pytest.mark.skipif(AMTOOL is None, reason='amtool not installed (Debian package prometheus-alertmanager)')
def test_alertmanager_example_checks():
    out = run([AMTOOL, 'check-config', 'alertmanager.yml'])
    assert 'SUCCESS' in out


def exported_names():
    """pk-metrics --prometheus on this host, and the families pk-toggle's
    server and pk-watchdog's node states write (their /metrics need dongles
    or nodes, so read from their source)."""
    names = {'up'}
    tool = os.path.join(BUILD, 'cli', 'pk-metrics')
    if not os.path.exists(tool):
        pytest.skip('pk-metrics not built in %s' % BUILD)
    out = run([tool, '--prometheus', '--delay', '200ms'], cwd=None)
    names |= set(re.findall(r'^# TYPE (\S+) ', out, re.M))
    # The node_* families the host may lack (conntrack without its module)
    # are left out of the output; they are written by name in the source.
    for src in ['libproxykit/metrics/pk-metrics-prom.c', 'libproxykit/toggle/pk-toggle-server.c',
                'libproxykit/core/pk-state-store.c']:
        names |= set(re.findall(r'"((?:node|proxykit)_[A-Za-z0-9_]+)"', open(os.path.join(SRCDIR, src)).read()))
    return names


def test_rules_read_only_exported_series():
    rules = yaml.safe_load(open(os.path.join(PROM, 'proxykit-rules.yml')))
    used = set()
    for g in rules['groups']:
        for r in g['rules']:
            # Metric names, not recorded ones (level:metric:operation).
            used |= set(re.findall(r'(?<![:\w])((?:node|proxykit)_\w+|up)(?![:\w(])', r['expr']))
    exported = exported_names()
    assert used <= exported, sorted(used - exported)
