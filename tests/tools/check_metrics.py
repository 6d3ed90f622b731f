#!/usr/bin/env python3
"""Parses a /metrics page with the Prometheus client library's own text-format parser and
checks that the families named on the command line are there with the type given.

    check_metrics.py metrics.txt keyflow_http_requests:counter keyflow_verify:counter ...

A counter family is named without its _total suffix, as the parser names it. Exits 1 with
the reasons when the page does not parse, a family is missing or has another type, or a
counter sample does not end in _total; prints one line per family otherwise."""
import sys

from prometheus_client.parser import text_string_to_metric_families


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    try:
        families = {family.name: family for family in text_string_to_metric_families(text)}
    except Exception as error:  # the parser raises ValueError and others on bad lines
        print(f"does not parse: {error}")
        return 1
    problems = []
    for family in families.values():
        print(f"{family.name} {family.type} {len(family.samples)} samples")
        if family.type == "unknown":
            problems.append(f"{family.name} has no TYPE")
        if family.type == "counter":
            for sample in family.samples:
                if not (sample.name.endswith("_total") or sample.name.endswith("_created")):
                    problems.append(f"counter sample {sample.name} does not end in _total")
    for wanted in sys.argv[2:]:
        name, kind = wanted.split(":")
        if name not in families:
            problems.append(f"{name} is missing")
        elif families[name].type != kind:
            problems.append(f"{name} is a {families[name].type}, not a {kind}")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
