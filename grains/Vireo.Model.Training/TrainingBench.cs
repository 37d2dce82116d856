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
/// <param name="HostBatchMs">Wall time for the host to draw, tile and label one batch on <paramref name="HostThreads"/> threads.</param>
/// <param name="HostThreads">Threads the host prepared batches on.</param>
public sealed record TrainingBenchResult(int Steps, double TilesPerStep, double StepMs, double VisionForwardBackwardMs,
    double VisionForwardMs, double HostBatchMs, int HostThreads)
{
    public double TilesPerSecond => TilesPerStep * 1000 / StepMs;
}

public static class TrainingBench
{
    /// <summary>Stage-1 step of the first batch, past any curriculum.</summary>
    private const int FirstStep = 1_000_000;

    /// <summary>
    /// Times <paramref name="steps"/> stage-1 steps of <paramref name="model"/> (after two untimed ones) at
    /// <paramref name="options"/>' batch size and data mix; the model's weights change as in training.
    /// </summary>
    public static TrainingBenchResult Run(VireoModel model, TrainingOptions options, Device device, int steps)
    {
        const int warmup = 2;
        var batches = new TrainingBatches(options, model.Tiler, model.Config.PatchSize);
        // Every timed step gets a batch of its own, prepared and staged before the clock starts, as the trainer's
        // prefetching has them ready; consecutive steps, so data echo draws what it would.
        var host = Stopwatch.StartNew();
        var prepared = Enumerable.Range(0, warmup + steps).Select(k => batches.Prepare(1, FirstStep + k, device)).ToList();
        var hostBatchMs = host.Elapsed.TotalMilliseconds / prepared.Count;

        model.to(device);
        VireoTrainer.UseTensorFloat32(device);
        if (options.Bf16Attention) model.Vision.ComputeAttentionIn(ScalarType.BFloat16);
        model.train();
        using var head = options.ReadingWeight > 0 ? new ReadingHead(model.Config.VisionConfig.HiddenSize) : null;
        head?.to(device);
        var trained = model.parameters().Concat(head?.parameters() ?? []).ToList();
        using var optimizer = optim.AdamW(trained, options.LearningRate, weight_decay: 0.01);

        double Timed(int from, int count, Action<int> step)
        {
            Synchronize(device);
            var clock = Stopwatch.StartNew();
            for (var k = from; k < from + count; k++) step(k);
            Synchronize(device);
            return clock.Elapsed.TotalMilliseconds / Math.Max(1, count);
        }

        void TrainingStep(int k)
        {
            using var scope = NewDisposeScope();
            using var result = VireoTrainer.Stage1Step(model, head, trained, optimizer, prepared[k], device, options.Seed, FirstStep + k,
                includeCaption: true, readingReachesEncoder: true, options.ReadingWeight);
        }

        Timed(0, warmup, TrainingStep);
        var stepMs = Timed(warmup, steps, TrainingStep);

        // The encoder alone, on the tiles of the timed batches cut once more (their staged copies went to the steps).
        var tiles = prepared.Skip(warmup).Select(b => b.Tiles.ToTensor(device).DetachFromDisposeScope()).ToList();
        try
        {
            var forwardBackwardMs = Timed(0, steps, k =>
            {
                using var scope = NewDisposeScope();
                model.zero_grad(set_to_none: true);
                model.Vision.forward(tiles[k]).square().mean().backward();
            });
            model.zero_grad(set_to_none: true);
            double forwardMs;
            using (no_grad()) forwardMs = Timed(0, steps, k =>
            {
                using var scope = NewDisposeScope();
                model.Vision.forward(tiles[k]);
            });
            return new TrainingBenchResult(steps, prepared.Skip(warmup).Average(b => b.Tiles.TotalTiles), stepMs, forwardBackwardMs,
                forwardMs, hostBatchMs, batches.MaxThreads > 0 ? batches.MaxThreads : Environment.ProcessorCount);
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
