"""The rule engine: rules.yaml -> validated rules -> alerts from predictions.

Modules: ``units`` (durations, times, N-of-M), ``yamlsafe`` (safe YAML with lines),
``reader`` and ``loader`` (validation into ``schema``), ``modes`` (mode precedence and
schedule), ``state`` (per-rule state machines), ``engine`` (runs them for every
source) and ``reload`` (thread-safe holder that swaps in a new file).
"""

from monitor.rules.engine import Engine
from monitor.rules.loader import load_rules, parse_rules
from monitor.rules.schema import MODES, RuleSet
from monitor.rules.state import RuleStatus
from monitor.rules.yamlsafe import RulesError

__all__ = ["Engine", "MODES", "RuleSet", "RuleStatus", "RulesError", "load_rules", "parse_rules"]
