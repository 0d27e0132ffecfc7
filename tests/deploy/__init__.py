"""Tests of the deployment files (compose, Helm chart, dashboard)."""
