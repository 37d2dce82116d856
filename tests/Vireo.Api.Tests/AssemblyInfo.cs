// One cluster of processes serves every test; on a small machine the tests run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
// The API under test stores uploads with Unix file modes; the tests run where it runs.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
