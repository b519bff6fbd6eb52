// Export: capture logs to other formats (pcapng). Depends on: Log, Analysis.
