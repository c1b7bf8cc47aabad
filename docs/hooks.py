"""MkDocs hook: the studies' committed result files (benchmarks/results/: tables as Markdown, sample grids as
PNG) become part of the site under results/, so the study pages link to them and --strict checks the links,
without a second copy of them under docs/."""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File, Files

SUFFIXES = {".md", ".png"}


def on_files(files: Files, config) -> Files:
    benchmarks = Path(config.config_file_path).parent / "benchmarks"
    for path in sorted((benchmarks / "results").rglob("*")):
        if path.is_file() and path.suffix in SUFFIXES and path.name != "README.md":
            rel = path.relative_to(benchmarks).as_posix()
            files.append(File(rel, str(benchmarks), config.site_dir, config.use_directory_urls,
                              inclusion=_not_in_nav()))
    return files


def _not_in_nav():
    # Result tables are reached from the study pages, not from the navigation: not an "omitted file".
    from mkdocs.structure.files import InclusionLevel

    return InclusionLevel.NOT_IN_NAV
