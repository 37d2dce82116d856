// Each test class starts a cluster of its own processes; on a small machine they run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
