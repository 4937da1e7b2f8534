"""The operator's ES2+ server side: the HandleDownloadProgressInfo receiver."""
