// Analysis: post-processing over an event stream read from a log: stats (LogQuery),
// journeys, path diff, and their rendering. The one place that uses both Log and Output.
// Depends on: Log, Output.
