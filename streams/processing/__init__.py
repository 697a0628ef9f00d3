"""The worker's record processing without Faust: the enrich batch processor and delivery.

Used by the Faust agents (``streams.app``), by ``newsstream replay`` and by the benchmarks, so
none of those needs faust to turn raw records into output events and send them.
"""
