"""``newsstream eval``: score the shipped models on labelled files, so anyone can reproduce
the figures in docs/quality.md. Corpora are not shipped; point the commands at your copies
(this project's come from ../shared/corpora, see its README)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from streams.cli.options import ENRICH, MODEL_CACHE_HELP, load_settings, settings_options
from streams.evaluation.conll import DEFAULT_SENTENCES_PER_DOCUMENT

if TYPE_CHECKING:
    # Loaded only when a command needs the model, so `--help` stays fast.
    from streams.config import Settings
    from streams.enrich.sentiment_e5 import E5SentimentAnalyzer


@click.group(name="eval")
def eval_group() -> None:
    """Score the shipped models on labelled data (accuracy and speed)."""


@eval_group.command(name="ner")
@click.option(
    "--conll",
    "files",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="A CoNLL-2002/2003 file (word ... TAG per line); repeat for several.",
)
@click.option(
    "--lang",
    type=click.Choice(["nl", "en"]),
    default=None,
    help="Language of the files, shown in the report (the model is one for both).",
)
@click.option(
    "--tagger-only",
    is_flag=True,
    help="Score the e5 tagger alone on the CoNLL sentences; by default the file's articles "
    "also go through the whole enrichment pipeline (what users read) and both are shown.",
)
@click.option(
    "--sentences-per-document",
    type=click.IntRange(min=1),
    default=DEFAULT_SENTENCES_PER_DOCUMENT,
    show_default=True,
    help="Article size for files without -DOCSTART- lines.",
)
@settings_options("ner_variant", "model_threads", "data_dir", helps=MODEL_CACHE_HELP)
def eval_ner(
    files: tuple[Path, ...],
    lang: str | None,
    tagger_only: bool,
    sentences_per_document: int,
    **flags: object,
) -> None:
    """Entity-level P/R/F1 per type (conlleval counting) and words/s of the e5 NER model,
    alone and through the enrichment pipeline.

    Pipeline scoring rebuilds articles from the file (one -DOCSTART- block each, one sentence
    a line), runs them through the pipeline `newsstream enrich` runs and maps the entities
    back onto the CoNLL tokens.
    """
    from streams.cli import runtime
    from streams.enrich.e5.tagger import DEFAULT_MODEL_DIR, E5Tagger, NerModelError
    from streams.enrich.ner_e5 import E5EntityRecognizer
    from streams.enrich.pipeline import Pipeline
    from streams.evaluation.conll import ConllFormatError
    from streams.evaluation.ner import evaluate_ner
    from streams.evaluation.ner_pipeline import evaluate_pipeline

    settings = load_settings(**flags)
    pipeline: Pipeline | None = None
    try:
        if tagger_only:
            tagger = E5Tagger(
                DEFAULT_MODEL_DIR,
                settings.data_dir / "models",
                variant=settings.ner_variant,
                threads=settings.model_threads,
            )
        else:
            settings = settings.model_copy(update={"ner_backend": "e5"})
            pipeline = runtime.build_pipeline(settings)
            tagger = next(e.tagger for e in pipeline.enrichers if isinstance(e, E5EntityRecognizer))
    except NerModelError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        for path in files:
            language = f", language {lang}" if lang else ""
            try:
                alone = evaluate_ner(tagger, path, sentences_per_document)
                click.echo(f"== {path} (ner-e5 {tagger.variant.name} alone{language})")
                click.echo(alone.format())
                if pipeline is None:
                    continue
                through = evaluate_pipeline(
                    pipeline, path, sentences_per_document=sentences_per_document
                )
            except (FileNotFoundError, ConllFormatError) as exc:
                raise click.ClickException(str(exc)) from None
            click.echo(f"== {path} (through the enrichment pipeline{language})")
            click.echo(through.format())
            gap = (alone.overall.f1 - through.overall.f1) * 100
            click.echo(f"gap (tagger alone minus pipeline): {gap:+.2f} F1 points")
    finally:
        if pipeline is not None:
            pipeline.close()
        else:
            tagger.close()


_SENTIMENT_VARIANT = click.option(
    "--variant",
    type=click.Choice(["int8", "fp32"]),
    default=None,
    help="Variant of the sentiment model (default: the model's, int8).",
)


def _open_sentiment_enricher(settings: Settings, variant: str | None) -> E5SentimentAnalyzer:
    """The sentiment-e5 enricher as the worker builds it, or a clear error when its model
    cannot load."""
    from streams.enrich.base import EnricherError
    from streams.enrich.sentiment_e5 import E5SentimentAnalyzer

    try:
        return E5SentimentAnalyzer(
            cache_dir=settings.data_dir / "models", variant=variant, threads=settings.model_threads
        )
    except EnricherError as exc:
        raise click.ClickException(str(exc)) from None


@eval_group.command(name="sentiment")
@click.option(
    "--csv",
    "csv_path",
    required=True,
    type=click.Path(path_type=Path),
    help="A CSV file with a text and a label column (labels -1/0/1 or negative/neutral/positive).",
)
@click.option("--text-column", default=None, help="Default: headline, text or sentence.")
@click.option("--label-column", default=None, help="Default: value, label or sentiment.")
@click.option(
    "--held-out",
    is_flag=True,
    help="Score only the part training held out (ecosent's training file: duplicates merged, "
    "stratified 15 %, fixed seed).",
)
@_SENTIMENT_VARIANT
@settings_options("model_threads", "data_dir", helps=MODEL_CACHE_HELP)
def eval_sentiment(
    csv_path: Path,
    text_column: str | None,
    label_column: str | None,
    held_out: bool,
    variant: str | None,
    **flags: object,
) -> None:
    """Accuracy, macro-F1, per-class P/R/F1, confusion matrix and sentences/s of the e5
    sentiment model."""
    from streams.evaluation.labelled import (
        LabelledFileError,
        read_labelled_csv,
        stratified_split,
    )
    from streams.evaluation.sentiment import evaluate

    settings = load_settings(**flags)
    try:
        data = read_labelled_csv(csv_path, text_column, label_column, merge_duplicates=held_out)
    except LabelledFileError as exc:
        raise click.ClickException(str(exc)) from None
    texts, labels = data.texts, data.labels
    if held_out:
        _train, held = stratified_split(labels)
        texts, labels = [texts[i] for i in held], labels[held]
    from streams.evaluation.sentiment import EnricherSentences

    enricher = _open_sentiment_enricher(settings, variant)
    try:
        report = evaluate(EnricherSentences(enricher), texts, labels.tolist())
    finally:
        enricher.close()
    part = " (held-out part)" if held_out else ""
    click.echo(f"== {csv_path}{part} (sentiment-e5 {enricher.model.variant.name})")
    click.echo(report.format())


@eval_group.command(name="entity-sentiment")
@click.option(
    "--newsmtsc",
    "files",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="A NewsMTSC-format file (JSON lines: sentence_normalized, targets with from/to, "
    "mention, polarity 2.0/4.0/6.0); repeat for several.",
)
@_SENTIMENT_VARIANT
@settings_options("model_threads", "data_dir", helps=MODEL_CACHE_HELP)
def eval_entity_sentiment(files: tuple[Path, ...], variant: str | None, **flags: object) -> None:
    """Sentiment toward entities per target: accuracy, macro-F1 (NewsMTSC's measure),
    per-class P/R/F1 and confusion matrix of what the product does (each target, as an entity
    of its sentence, gets the sentiment-e5 enricher's label)."""
    from streams.evaluation.newsmtsc import (
        EnricherTargets,
        NewsMtscFormatError,
        evaluate_targets,
        read_newsmtsc,
    )

    settings = load_settings(**flags)
    try:
        # Read every file first: a broken one stops the command before the model loads.
        sentences = {path: read_newsmtsc(path) for path in files}
    except NewsMtscFormatError as exc:
        raise click.ClickException(str(exc)) from None
    enricher = _open_sentiment_enricher(settings, variant)
    try:
        for path, items in sentences.items():
            report = evaluate_targets(EnricherTargets(enricher), items)
            click.echo(
                f"== {path} ({len(items)} sentences; each target as an entity through "
                f"sentiment-e5 {enricher.model.variant.name})"
            )
            click.echo(report.format())
    finally:
        enricher.close()


@eval_group.command(name="quotes")
@click.option(
    "--dev-set",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The hand-checked dev set (JSON lines); default: the one shipped with newsstream.",
)
@click.option(
    "--dpgmedia",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="dpgmedia2019's articles.jsonl: the dev set refers to its articles by id and offsets.",
)
@click.option(
    "--written-only", is_flag=True, help="Score only the dev set's written items (no corpus)."
)
@click.option(
    "--show-errors", is_flag=True, help="List every missed, spurious or misattributed quote."
)
@settings_options(*ENRICH, "data_dir", helps=MODEL_CACHE_HELP)
def eval_quotes(
    dev_set: Path | None,
    dpgmedia: Path | None,
    written_only: bool,
    show_errors: bool,
    **flags: object,
) -> None:
    """Quote precision/recall, speaker accuracy and scare quotes emitted, through the enrichers
    the worker runs (sentences, language, NER, entity ids, quotes)."""
    from schemas import Quote
    from streams.cli import runtime
    from streams.enrich.base import Document
    from streams.enrich.quotes import QuoteExtractor
    from streams.evaluation.quotes import (
        DEFAULT_DEV_SET,
        DevSetError,
        evaluate_quotes,
        load_dev_set,
    )

    path = dev_set or DEFAULT_DEV_SET
    try:
        items = load_dev_set(path, dpgmedia, written_only=written_only)
    except DevSetError as exc:
        raise click.ClickException(str(exc)) from None
    settings = load_settings(**flags)
    pipeline = runtime.build_pipeline(settings)

    def extract(bodies: Sequence[str]) -> tuple[Sequence[Sequence[Quote]], float]:
        # The worker's enrichers in the worker's order, up to and including the quotes; the
        # ones after it (sentiment) cannot change a quote, so they are not run.
        docs = [Document(body=body) for body in bodies]
        seconds = 0.0
        for enricher in pipeline.enrichers:
            began = time.perf_counter()
            docs = enricher.enrich_batch(docs)
            if isinstance(enricher, QuoteExtractor):
                seconds = time.perf_counter() - began
                break
        return [doc.quotes for doc in docs], seconds

    try:
        report = evaluate_quotes(items, extract)
    finally:
        pipeline.close()
    click.echo(f"== {path} ({QuoteExtractor.name} {QuoteExtractor.version})")
    click.echo(report.format())
    if show_errors:
        for m in report.mistakes:
            click.echo(f"{m.kind:<9}{m.item:<24}{m.text[:60]!r} expected {m.expected}, got {m.got}")


@eval_group.command(name="links")
@click.option(
    "--pairs",
    "pairs_path",
    type=click.Path(path_type=Path),
    default=None,
    help="English/Dutch name pairs, 'category<TAB>label<TAB>English<TAB>Dutch' "
    "(default: the shipped dev pairs).",
)
@click.option(
    "--articles",
    "articles_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Within-article join cases, JSON lines (default: the shipped dev cases).",
)
@click.option(
    "--surnames",
    "surnames_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Surnames of people who are none of the known persons, one a line (e.g. frogdata's "
    "familienamen.ner): counts those the person keys alone join to a known person.",
)
@settings_options("alias_file")
def eval_links(
    pairs_path: Path | None,
    articles_path: Path | None,
    surnames_path: Path | None,
    **flags: object,
) -> None:
    """Cross-language id agreement, false joins and within-article joins of entity-links."""
    from streams.enrich.base import EnricherError
    from streams.enrich.entity_links import EntityLinker
    from streams.evaluation.links import (
        DEFAULT_ARTICLES,
        DEFAULT_PAIRS,
        LinksDataError,
        evaluate_links,
        key_only_joins,
        read_cases,
        read_pairs,
    )

    settings = load_settings(**flags)
    pairs_path = pairs_path or DEFAULT_PAIRS
    articles_path = articles_path or DEFAULT_ARTICLES
    try:
        linker = EntityLinker(alias_files=[settings.alias_file] if settings.alias_file else [])
        report = evaluate_links(linker, read_pairs(pairs_path), read_cases(articles_path))
    except (OSError, LinksDataError, EnricherError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"== {pairs_path}, {articles_path} (entity-links {linker.version})")
    click.echo(report.format())
    if surnames_path is not None:
        try:
            lines = surnames_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as exc:
            raise click.ClickException(str(exc)) from None
        tried, joined = key_only_joins(linker.table, (n.strip() for n in lines if n.strip()))
        click.echo(
            f"== {surnames_path}: joined to a known person by key only: {len(joined)}/{tried}"
        )
        click.echo("\n".join(f"  {name} -> {ident}" for name, ident in joined))
