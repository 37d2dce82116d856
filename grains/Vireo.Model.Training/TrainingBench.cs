using System.Diagnostics;
using TorchSharp;
using Vireo.Model.Modules;
using static TorchSharp.torch;

namespace Vireo.Model.Training;

/// <summary>
/// Where a stage-1 step's time goes, with the data taken out: the trainer's own step on batches prepared beforehand,
/// the vision encoder's share of it, and how long the host takes to prepare one batch. A step that takes less time
/// than the host's batch means training waits for data.
/// </summary>
/// <param name="Steps">Steps timed.</param>
/// <param name="TilesPerStep">Tiles in an average timed batch.</param>
/// <param name="StepMs">A whole stage-1 step (tiles to the device, forward, losses, backward, AdamW).</param>
/// <param name="VisionForwardBackwardMs">The vision encoder's forward and backward on the same tiles.</param>
/// <param name="VisionForwardMs">The vision encoder's forward alone, without gradients.</param>
/// <param name="HostBatchMs">Host wall time per batch (draw, tile, label, stage) on <paramref name="HostThreads"/> threads, batches prepared side by side as the trainer prefetches them. Every batch is kept until its step, so each page-locks a buffer of its own, where the trainer's recycle.</param>
/// <param name="HostDrawMs">The same for drawing and labelling the frames alone, without tiling or staging them for the device.</param>
/// <param name="HostThreads">Threads the host prepared batches on.</param>
public sealed record TrainingBenchResult(int Steps, double TilesPerStep, double StepMs, double VisionForwardBackwardMs,
    double VisionForwardMs, double HostBatchMs, double HostDrawMs, int HostThreads)
{
    public double TilesPerSecond => TilesPerStep * 1000 / StepMs;
}

public static class TrainingBench
{
    /// <summary>Stage-1 step of the first batch, past any curriculum.</summary>
    private const int FirstStep = 1_000_000;

    /// <summary>
    /// Times <paramref name="steps"/> stage-1 steps of <paramref name="model"/> (after an untimed one) at
    /// <paramref name="options"/>' batch size and data mix; the model's weights change as in training.
    /// </summary>
    public static TrainingBenchResult Run(VireoModel model, TrainingOptions options, Device device, int steps)
    {
        var batches = new TrainingBatches(options, model.Tiler, model.Config.PatchSize);
        // The device is started first, so that its start-up is not counted as the host's.
        VireoTrainer.PlaceOnDevice(model, options, device);
        // Every timed step gets a batch of its own, prepared and staged before the clock starts; consecutive steps, so
        // data echo draws what it would. They are prepared as the trainer prefetches them, several side by side, so
        // the host's time per batch is the rate the trainer gets from it.
        var prepared = new PreparedBatch[1 + steps];
        var side = new ParallelOptions { MaxDegreeOfParallelism = VireoTrainer.PrefetchDepth(device) };
        // Fonts, photographs and the drawing code's JIT are loaded on a batch far from the timed ones (so data echo
        // shares no frames with it), as they are long before a trainer's steady state.
        batches.Labels(batches.Samples(1, FirstStep - 1000));
        var host = Stopwatch.StartNew();
        Parallel.For(0, prepared.Length, side, k => prepared[k] = batches.Prepare(1, FirstStep + k, device));
        var hostBatchMs = host.Elapsed.TotalMilliseconds / prepared.Length;
        // The same frames drawn and labelled once more without staging: the rest of the batch's time is tiling and staging.
        var drawn = new TrainingBatches(options, model.Tiler, model.Config.PatchSize);
        host.Restart();
        Parallel.For(0, prepared.Length, side, k => drawn.Labels(drawn.Samples(1, FirstStep + k)));
        var hostDrawMs = host.Elapsed.TotalMilliseconds / prepared.Length;

        model.train();
        using var head = options.ReadingWeight > 0 ? VireoTrainer.NewReadingHead(model, options) : null;
        head?.to(device);
        var trained = model.parameters().Concat(head?.parameters() ?? []).ToList();
        using var optimizer = VireoTrainer.AdamW(trained, options.LearningRate);

        // Each part runs once untimed, on batch 0, so that its kernels are chosen and its memory cached before the
        // clock starts; then once on each of batches 1..steps.
        double Timed(Action<int> step)
        {
            step(0);
            Synchronize(device);
            var clock = Stopwatch.StartNew();
            for (var k = 1; k <= steps; k++) step(k);
            Synchronize(device);
            return clock.Elapsed.TotalMilliseconds / steps;
        }

        void TrainingStep(int k)
        {
            using var scope = NewDisposeScope();
            using var result = VireoTrainer.Stage1Step(model, head, trained, optimizer, prepared[k], device, options.Seed, FirstStep + k,
                includeCaption: true, readingReachesEncoder: true, options.ReadingWeight);
        }

        var stepMs = Timed(TrainingStep);

        // The encoder alone, on the same tiles cut once more (their staged copies went to the steps).
        var tiles = prepared.Select(b => b.Tiles.ToTensor(device).DetachFromDisposeScope()).ToList();
        try
        {
            var forwardBackwardMs = Timed(k =>
            {
                using var scope = NewDisposeScope();
                model.zero_grad(set_to_none: true);
                model.Vision.forward(tiles[k]).square().mean().backward();
            });
            model.zero_grad(set_to_none: true);
            double forwardMs;
            using (no_grad()) forwardMs = Timed(k =>
            {
                using var scope = NewDisposeScope();
                model.Vision.forward(tiles[k]);
            });
            return new TrainingBenchResult(steps, prepared.Skip(1).Average(b => b.Tiles.TotalTiles), stepMs, forwardBackwardMs,
                forwardMs, hostBatchMs, hostDrawMs, batches.MaxThreads > 0 ? batches.MaxThreads : Environment.ProcessorCount);
        }
        finally
        {
            foreach (var t in tiles) t.Dispose();
        }
    }

    private static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
    }
}
