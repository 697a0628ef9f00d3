"""Dutch named-entity recognition with Debian's Frog, run as supervised socket servers.

Frog (GPL-3+) runs as separate processes, ``frog -S PORT --skip=mpacl`` (tokeniser, tagger and
NER only; lemmatiser, morphology, chunker, multi-word units and parser skipped), so its licence
never mixes with ours and a crash in it never takes the worker down.

What Frog 0.20 does, as measured (the code below relies on each point):

* **Binding.** ``-S PORT`` listens on *all* interfaces (0.0.0.0); Frog has no option to choose
  the address. The port is a random free one and lives only as long as the worker; on a host
  reachable from untrusted networks, firewall it or run the worker in its own network namespace.
* **Fork per connection.** The server forks a child for every connection, which serves it until
  the client closes it. This package keeps one connection per server open (no fork per article)
  and starts each server as the leader of a new process group, so that stopping it kills the
  children too. Frog catches SIGTERM and exits only after its next ``accept`` fails (seconds
  later); it holds no state worth flushing, so it is stopped with SIGKILL.
* **Working directory.** Frog writes ``frog.*.debug`` files into its working directory and, at
  every start (even ``frog -V``), deletes old ``frog.*.debug`` files there; it runs in a private
  temporary directory.
* **Protocol.** Send UTF-8 text, then a line ``EOT``; the answer is one tab-separated line per
  token (index, word, lemma, morphology, an empty column, CGN tag such as ``SPEC(deeleigen)``,
  tag confidence, BIO NER tag such as ``B-PER``, then empty chunk/parse columns), a blank line
  after each sentence, a line ``READY`` and one more blank line. A connection serves any number
  of requests. A line of the text that reads exactly ``EOT`` (also ``EOT\\r``) ends the request
  early and desynchronises the connection; it is sent as ``EOT `` instead.
* **Text.** Tokens keep the body's characters, quotes included („ ” “ ‘ ’ stay as they are), but
  soft hyphens are dropped from words; blank lines do *not* end a sentence, so a heading runs
  into the next paragraph. Paragraphs are therefore sent one request each; a request costs
  ~0.2 ms beyond the work on its text.
* **Resources.** Loading takes 2.5-4 s. One server is ~0.8 GB resident and so is its
  connection child, but they share those pages copy-on-write: ~0.87 GB PSS for the pair.
  Frog is single-threaded per connection and CPU-bound: ~250 words/s on an idle core, ~100
  with the other core busy (``python -m bench.frog FILE...`` measures it).

Every token is aligned back to the body by searching its text left to right on a folded copy
of both (whitespace, invisible format characters and combining marks dropped, quote, apostrophe
and dash variants unified, compatibility characters decomposed, case folded), so offsets stay
exact whatever Frog does to spacing, quotes or soft hyphens. A token that cannot be found near
the cursor is skipped (logged), never guessed.
"""

from streams.enrich.frog.alignment import align_tokens
from streams.enrich.frog.chunks import DEFAULT_MAX_CHUNK_CHARS, paragraph_chunks
from streams.enrich.frog.enricher import FROG_LABELS, FrogEntityRecognizer, cgn_pos
from streams.enrich.frog.errors import INSTALL_HINT, FrogError, FrogNotInstalledError
from streams.enrich.frog.pool import (
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_SKIP,
    DEFAULT_START_TIMEOUT,
    FrogServer,
    FrogServerPool,
)
from streams.enrich.frog.protocol import FrogToken, parse_frog_answer, wire_text
from streams.enrich.frog.server import ServerMemory, frog_version

__all__ = [
    "DEFAULT_MAX_CHUNK_CHARS",
    "DEFAULT_REQUEST_TIMEOUT",
    "DEFAULT_SKIP",
    "DEFAULT_START_TIMEOUT",
    "FROG_LABELS",
    "INSTALL_HINT",
    "FrogEntityRecognizer",
    "FrogError",
    "FrogNotInstalledError",
    "FrogServer",
    "FrogServerPool",
    "FrogToken",
    "ServerMemory",
    "align_tokens",
    "cgn_pos",
    "frog_version",
    "paragraph_chunks",
    "parse_frog_answer",
    "wire_text",
]
