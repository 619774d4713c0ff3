"""Fluent Bit configurations (classic and YAML formats): the `tail` inputs and their parsers.

Classic format: `[SECTION]` headers with indented `Key Value` entries, `@INCLUDE file`,
`@SET NAME=value`, `#` comments and `${NAME}` variables. YAML format: `pipeline.inputs` is a list
of inputs, `parsers` and `multiline_parsers` define parsers, `includes` names further files and
`env` sets variables. Keys are case-insensitive in both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from lsconform.probes.collectors.globs import (
    fnmatch3,
    fnmatch_glob_list,
    glob3_matches,
    split_comma_list,
)
from lsconform.probes.collectors.model import (
    ContainerLogTarget,
    Family,
    Outcome,
    Reader,
    Verdict,
    check_access,
    no_mount_problem,
    parser_problem,
    regex_accepts,
)
from lsconform.probes.logfiles import LineFormat

# Parsers the Fluent Bit images ship in /fluent-bit/etc/parsers.conf, used when a configuration
# names them without defining them. The cri expression is the one Fluent Bit documents.
BUILTIN_PARSERS = {
    "docker": {"format": "json"},
    "cri": {
        "format": "regex",
        "regex": r"^(?<time>[^ ]+) (?<stream>stdout|stderr) (?<logtag>[^ ]*) (?<message>.*)$",
    },
}
# Built-in multiline parsers that understand a runtime's line format; the others (go, python,
# java, ruby) join language stack traces and leave the runtime prefix alone.
RUNTIME_MULTILINE = {"docker": LineFormat.DOCKER_JSON, "cri": LineFormat.CRI}
# Fluent Bit's default Buffer_Max_Size, the longest line it keeps when Skip_Long_Lines is on.
DEFAULT_BUFFER_MAX_SIZE = "32k"

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class Section:
    """One configuration section: its name (`input`, `parser`) and entries (lower-case keys)."""

    name: str
    entries: dict[str, list[str]] = field(default_factory=dict)

    def get(self, key: str, default: str = "") -> str:
        """Return the last value of `key` (Fluent Bit keeps the last one), or `default`."""
        values = self.entries.get(key.lower())
        return values[-1] if values else default

    def all(self, key: str) -> list[str]:
        """Return every value of a key that may repeat (`multiline.parser`)."""
        return list(self.entries.get(key.lower(), []))


def parse_classic(
    text: str, files: Mapping[str, str], env: Mapping[str, str], *, depth: int = 0
) -> tuple[list[Section], list[str]]:
    """Parse a classic configuration; `files` resolves `@INCLUDE` by file name.

    Returns the sections and the problems found (unresolved includes and variables).
    """
    variables = dict(env)
    sections: list[Section] = []
    problems: list[str] = []
    current: Section | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("@SET "):
            name, _, value = line[5:].partition("=")
            variables[name.strip()] = value.strip()
            continue
        if line.upper().startswith("@INCLUDE "):
            included, more = _include(line[9:].strip(), files, variables, depth)
            sections += included
            problems += more
            current = None
            continue
        if line.startswith("[") and line.endswith("]"):
            current = Section(line[1:-1].strip().lower())
            sections.append(current)
            continue
        if current is None:
            problems.append(f"entry outside a section: {line!r}")
            continue
        key, _, value = line.partition(" ")
        value, missing = _substitute(value.strip(), variables)
        problems += [f"variable ${{{name}}} is not set" for name in missing]
        current.entries.setdefault(key.lower(), []).append(value)
    return sections, problems


def _include(
    pattern: str, files: Mapping[str, str], variables: Mapping[str, str], depth: int
) -> tuple[list[Section], list[str]]:
    if depth > 8:
        return [], [f"@INCLUDE {pattern} nests more than 8 levels deep"]
    base = pattern.rsplit("/", 1)[-1]
    names = fnmatch_glob_list(base, files)
    if not names:
        return [], [f"@INCLUDE {pattern} names no file of the configuration"]
    sections: list[Section] = []
    problems: list[str] = []
    for name in names:
        found, more = parse_classic(files[name], files, variables, depth=depth + 1)
        sections += found
        problems += more
    return sections, problems


def _substitute(value: str, variables: Mapping[str, str]) -> tuple[str, list[str]]:
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in variables:
            return variables[name]
        missing.append(name)
        return ""

    return _VARIABLE.sub(replace, value), missing


def parse_yaml(
    text: str, files: Mapping[str, str], env: Mapping[str, str]
) -> tuple[list[Section], list[str]]:
    """Parse a YAML configuration into the same sections as the classic format."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        return [], [f"configuration is not valid YAML: {error}"]
    if not isinstance(data, dict):
        return [], ["configuration is not a YAML mapping"]
    variables = {**env, **{str(k): str(v) for k, v in (data.get("env") or {}).items()}}
    sections: list[Section] = []
    problems: list[str] = []
    for include in data.get("includes") or []:
        name = str(include).rsplit("/", 1)[-1]
        if name not in files:
            problems.append(f"include {include} names no file of the configuration")
            continue
        found, more = parse_any(files[name], name, files, variables)
        sections += found
        problems += more
    pipeline = data.get("pipeline") or {}
    for kind in ("inputs", "filters", "outputs"):
        for item in pipeline.get(kind) or []:
            if isinstance(item, dict):
                sections.append(_yaml_section(kind[:-1], item, variables, problems))
    for kind, name in (("parsers", "parser"), ("multiline_parsers", "multiline_parser")):
        for item in data.get(kind) or []:
            if isinstance(item, dict):
                sections.append(_yaml_section(name, item, variables, problems))
    return sections, problems


def _yaml_section(
    name: str, item: Mapping[str, Any], variables: Mapping[str, str], problems: list[str]
) -> Section:
    section = Section(name)
    for key, value in item.items():
        values = value if isinstance(value, list) else [value]
        for single in values:
            text, missing = _substitute(str(single), variables)
            problems += [f"variable ${{{m}}} is not set" for m in missing]
            section.entries.setdefault(str(key).lower(), []).append(text)
    return section


def parse_any(
    text: str, name: str, files: Mapping[str, str], env: Mapping[str, str]
) -> tuple[list[Section], list[str]]:
    """Parse a configuration file in the format its name or content shows (classic or YAML)."""
    if name.endswith((".yaml", ".yml")) or re.search(r"^pipeline\s*:", text, re.MULTILINE):
        return parse_yaml(text, files, env)
    return parse_classic(text, files, env)


@dataclass
class TailInput:
    """One `tail` input with the settings that decide which files it reads and how."""

    name: str
    path: str
    exclude_path: str = ""
    parser: str = ""
    multiline_parsers: list[str] = field(default_factory=list)
    docker_mode: bool = False
    skip_long_lines: bool = False
    buffer_max_size: str = DEFAULT_BUFFER_MAX_SIZE
    read_from_head: bool = False


def tail_inputs(sections: list[Section]) -> list[TailInput]:
    """Return the tail inputs of a parsed configuration, named `tail.<n>` as Fluent Bit does."""
    found: list[TailInput] = []
    for section in sections:
        if section.name != "input" or section.get("name").lower() != "tail":
            continue
        multiline = [
            p for value in section.all("multiline.parser") for p in split_comma_list(value)
        ]
        found.append(
            TailInput(
                name=section.get("alias") or f"tail.{len(found)}",
                path=",".join(section.all("path")),
                exclude_path=",".join(section.all("exclude_path")),
                parser=section.get("parser"),
                multiline_parsers=multiline,
                docker_mode=_on(section.get("docker_mode")),
                skip_long_lines=_on(section.get("skip_long_lines")),
                buffer_max_size=section.get("buffer_max_size", DEFAULT_BUFFER_MAX_SIZE),
                read_from_head=_on(section.get("read_from_head")),
            )
        )
    return found


def _on(value: str) -> bool:
    return value.strip().lower() in ("on", "true", "yes", "1")


def parser_definitions(sections: list[Section]) -> dict[str, dict[str, str]]:
    """Return the parsers a configuration defines, over the ones the image ships."""
    parsers = {name: dict(spec) for name, spec in BUILTIN_PARSERS.items()}
    for section in sections:
        if section.name == "parser" and section.get("name"):
            parsers[section.get("name")] = {
                "format": section.get("format").lower(),
                "regex": section.get("regex"),
            }
    return parsers


def accepted_formats(
    tail: TailInput, parsers: Mapping[str, Mapping[str, str]]
) -> tuple[list[LineFormat], str]:
    """Return the line formats a tail input parses, and a description of its parser."""
    if tail.multiline_parsers:
        formats = [RUNTIME_MULTILINE[p] for p in tail.multiline_parsers if p in RUNTIME_MULTILINE]
        shown = ", ".join(tail.multiline_parsers)
        return formats or [LineFormat.UNKNOWN], f"multiline.parser {shown}"
    if tail.parser:
        spec = parsers.get(tail.parser)
        if spec is None:
            return [LineFormat.UNKNOWN], f"Parser {tail.parser} (not defined)"
        if spec.get("format") == "json":
            return [LineFormat.DOCKER_JSON], f"Parser {tail.parser} (format json)"
        if spec.get("format") == "regex":
            accepted = [
                fmt
                for fmt in (LineFormat.CRI, LineFormat.DOCKER_JSON)
                if regex_accepts(spec.get("regex", ""), fmt)
            ]
            return accepted or [LineFormat.UNKNOWN], f"Parser {tail.parser} (format regex)"
        return [LineFormat.UNKNOWN], f"Parser {tail.parser} (format {spec.get('format')})"
    if tail.docker_mode:
        return [LineFormat.DOCKER_JSON], "Docker_Mode On"
    return [LineFormat.UNKNOWN], "no parser"


@dataclass
class FluentBitCollector:
    """A Fluent Bit configuration with its tail inputs and the reader it runs as."""

    name: str
    reader: Reader
    inputs: list[TailInput]
    parsers: dict[str, dict[str, str]]
    problems: list[str] = field(default_factory=list)
    family: Family = Family.FLUENT_BIT

    def evaluate(self, target: ContainerLogTarget) -> Verdict:
        """Say whether a tail input of this Fluent Bit reads the target's log file."""
        if not self.inputs:
            return self._verdict(Outcome.NOT_SELECTED, "no tail input in the configuration")
        verdicts = [self._evaluate_input(tail, target) for tail in self.inputs]
        rank = {Outcome.READS: 0, Outcome.BROKEN: 1, Outcome.DOUBTFUL: 2, Outcome.NOT_SELECTED: 3}
        return min(verdicts, key=lambda verdict: rank[verdict.outcome])

    def _evaluate_input(self, tail: TailInput, target: ContainerLogTarget) -> Verdict:
        notes = []
        if tail.skip_long_lines:
            notes.append(
                f"Skip_Long_Lines On: lines longer than Buffer_Max_Size {tail.buffer_max_size} "
                "are dropped"
            )
        outcome, reason, path, via_link, remedy = self._select(tail, target)
        if outcome is Outcome.READS:
            node_path = target.link_path if via_link else target.pod_path
            problem = check_access(self.reader, target, node_path, via_link=via_link)
            if problem is None:
                formats, parser = accepted_formats(tail, self.parsers)
                problem = parser_problem(formats, parser, target)
            if problem is not None:
                outcome, reason, remedy = problem
            else:
                reason = f"reads {path}"
        verdict = self._verdict(outcome, f"input {tail.name}: {reason}", path, remedy)
        verdict.notes = notes
        return verdict

    def _select(
        self, tail: TailInput, target: ContainerLogTarget
    ) -> tuple[Outcome, str, str, bool, str]:
        patterns = split_comma_list(tail.path)
        excludes = split_comma_list(tail.exclude_path)
        for node_path, via_link in ((target.pod_path, False), (target.link_path, True)):
            inside = self.reader.container_path(node_path)
            if inside is None or not any(glob3_matches(p, inside) for p in patterns):
                continue
            excluded_by = [p for p in excludes if fnmatch3(p, inside)]
            if excluded_by:
                return (
                    Outcome.NOT_SELECTED,
                    f"{inside} matches Path but is excluded by Exclude_Path {excluded_by[0]!r}",
                    inside,
                    via_link,
                    f"remove or narrow the Exclude_Path pattern {excluded_by[0]!r}",
                )
            return Outcome.READS, "", inside, via_link, ""
        for node_path in (target.pod_path, target.link_path):
            if self.reader.container_path(node_path) != node_path and any(
                glob3_matches(p, node_path) for p in patterns
            ):
                reason, remedy = no_mount_problem(self.reader, target, node_path)
                return Outcome.BROKEN, reason, node_path, False, remedy
        return (
            Outcome.NOT_SELECTED,
            f"Path {tail.path!r} matches neither {target.pod_path} nor {target.link_path}",
            "",
            False,
            "set Path /var/log/containers/*.log (glob(3): no `**`, no brace sets)",
        )

    def _verdict(self, outcome: Outcome, reason: str, path: str = "", remedy: str = "") -> Verdict:
        return Verdict(self.name, self.family, outcome, reason, path, remedy)


def load_collector(
    name: str, files: Mapping[str, str], reader: Reader, *, main: str | None = None
) -> FluentBitCollector | None:
    """Build a collector from the files of a configuration (ConfigMap keys or local files).

    `main` names the main file; by default `fluent-bit.yaml`, then `fluent-bit.conf`, then the
    first file that has an `[INPUT]` section or a `pipeline:` key. Returns None if none does.
    """
    main = main or _main_file(files)
    if main is None:
        return None
    sections, problems = parse_any(files[main], main, files, reader.env)
    for section in sections:
        if section.name == "service":
            for parsers_file in section.all("parsers_file"):
                name_only = parsers_file.rsplit("/", 1)[-1]
                if name_only in files:
                    more, extra = parse_any(files[name_only], name_only, files, reader.env)
                    sections += more
                    problems += extra
    return FluentBitCollector(
        name=name,
        reader=reader,
        inputs=tail_inputs(sections),
        parsers=parser_definitions(sections),
        problems=problems,
    )


def _main_file(files: Mapping[str, str]) -> str | None:
    for preferred in ("fluent-bit.yaml", "fluent-bit.yml", "fluent-bit.conf"):
        if preferred in files:
            return preferred
    for name, text in sorted(files.items()):
        if re.search(r"^\s*\[INPUT\]", text, re.MULTILINE | re.IGNORECASE) or re.search(
            r"^pipeline\s*:", text, re.MULTILINE
        ):
            return name
    return None
