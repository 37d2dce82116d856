// Training seeds torch's process-wide generator before it builds a model; a test building another model at the same
// time would draw from it in between and change the run.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
