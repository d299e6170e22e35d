"""Platform adapters. Each SDK is imported only inside its own module."""
