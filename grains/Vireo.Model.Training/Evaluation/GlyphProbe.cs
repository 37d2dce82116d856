using System.Globalization;
using System.Text;
using Vireo.Model.Imaging;
using Vireo.Model.Modules;
using Vireo.Model.Training.Data;
using static TorchSharp.torch;

namespace Vireo.Model.Training.Evaluation;

/// <summary>One representation's probe: held-out glyph patches of small and of large text, and the share named right.</summary>
public sealed record GlyphProbeScore(string Representation, int Width, int SmallPatches, double Small, int LargePatches, double Large);

/// <summary>
/// How much of each glyph survives on the way to the language model. Linear probes learn to name the character under
/// each glyph patch of single-tile real-font frames from three representations: the encoder's patch features, the
/// 256-token path's tokens (the 2x2 pixel shuffle and mlp1) and the 64-token path's (4x4 and mlp2), with one probe
/// per patch position inside a token. They train on the training font families and photographs and are scored on
/// the held-out ones, small and large text apart. A glyph the encoder's probe names but the 256-token probe does not
/// is lost in the connector; one the 256-token probe names and the 64-token one does not is what routing a tile to
/// 256 tokens keeps.
/// </summary>
public static class GlyphProbe
{
    /// <summary>Each representation probed, with the key its scores take in the report's last line.</summary>
    private static readonly (string Name, string Key)[] Probed = [("encoder patches", "patch"), ("256-token path", "256"), ("64-token path", "64")];

    public static IEnumerable<string> Representations => Probed.Select(p => p.Name);

    /// <param name="model">The model probed; it is not changed.</param>
    /// <param name="trainFrames">Frames of the training side the probes learn from.</param>
    /// <param name="testFrames">Frames of the held-out side they are scored on.</param>
    /// <param name="seed">Draws the frames and starts the probes.</param>
    /// <param name="fonts">Fonts to draw from; the installed ones by default.</param>
    /// <param name="photos">Photographs to draw from; the installed ones by default.</param>
    /// <param name="epochs">Full-batch steps of each probe.</param>
    public static IReadOnlyList<GlyphProbeScore> Run(VireoModel model, int trainFrames, int testFrames, int seed, FontCatalog? fonts = null, PhotoCatalog? photos = null, int epochs = 300)
    {
        fonts ??= FontCatalog.Default();
        photos ??= PhotoCatalog.Default();
        model.eval();
        var train = Collect(model, new RealFrames(model.Tiler, fonts, photos), trainFrames, seed);
        var test = Collect(model, new RealFrames(model.Tiler, fonts, photos, heldOut: true), testFrames, seed + 1);
        try
        {
            return [.. Probed.Select((p, r) => Probe(p.Name, train, test, r, seed, epochs))];
        }
        finally
        {
            train.Dispose();
            test.Dispose();
        }
    }

    /// <summary>The report: one row per representation, then one line of name=value pairs.</summary>
    public static string Report(IReadOnlyList<GlyphProbeScore> scores)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{"representation",-18} {"width",6} {"small glyphs",13} {"large glyphs",13}");
        foreach (var s in scores)
            text.AppendLine(CultureInfo.InvariantCulture, $"{s.Representation,-18} {s.Width,6} {s.Small,11:P1}   {s.Large,11:P1}   ({s.SmallPatches} small, {s.LargePatches} large held-out patches)");
        text.AppendLine(CultureInfo.InvariantCulture, $"(chance: {1.0 / BitmapFont.Alphabet.Length:P1}; probes trained on the training fonts, scored on the held-out ones)");
        text.AppendLine();
        text.Append(string.Join(' ', scores.Select(s =>
        {
            var key = Probed.Single(p => p.Name == s.Representation).Key;
            return string.Create(CultureInfo.InvariantCulture, $"probe_small_{key}={s.Small:F3} probe_large_{key}={s.Large:F3}");
        })));
        return text.ToString();
    }

    /// <summary>Glyph patches of a set of frames: each representation's vector for them, their characters, and which are small text's.</summary>
    private sealed class Patches(Tensor[] vectors, Tensor labels, bool[] small) : IDisposable
    {
        public Tensor[] Vectors => vectors;
        public Tensor Labels => labels;
        public bool[] Small => small;

        public void Dispose()
        {
            foreach (var v in vectors) v.Dispose();
            labels.Dispose();
        }
    }

    private static Patches Collect(VireoModel model, RealFrames generator, int count, int seed)
    {
        var tiler = model.Tiler;
        var patchSize = model.Config.PatchSize;
        var side = tiler.ImageSize / patchSize;
        // Which token, and which place inside it, each patch goes to on each path: the pixel shuffle of the patch indices.
        var standardPlaces = TokenPlaces.Of(side, model.Config.DownsampleRatio);
        var compressedPlaces = TokenPlaces.Of(side, model.Config.CompressedDownsampleRatio);
        var rng = new Random(seed);
        var samples = Enumerable.Range(0, count)
            .Select(_ => generator.Generate(rng, [(tiler.ImageSize, tiler.ImageSize)], textProbability: 1, largeTextFraction: 0.5, shapeProbability: 0))
            .Where(s => s.Text is not null)
            .ToList();
        var parts = new List<Tensor>[3] { [], [], [] };
        var labels = new List<long>();
        var small = new List<bool>();
        foreach (var batch in samples.Chunk(8))
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var tiles = TileBatch.From(tiler, batch.Select(s => s.Frame).ToList()).ToTensor(CPU);
            var features = model.Vision.forward(tiles);
            var standard = model.ConnectStandard(features);
            var compressed = model.ConnectCompressed(features);
            var frames = new List<long>();
            var patches = new List<long>();
            for (var i = 0; i < batch.Length; i++)
            {
                var targets = ReadingTargets.For(batch[i], tiler, patchSize);
                for (var p = 0; p < targets.Own.Length; p++)
                {
                    if (targets.Own[p] <= 0) continue;
                    frames.Add(i);
                    patches.Add(p);
                    labels.Add(targets.Own[p] - 1);
                    small.Add(targets.Small[p]);
                }
            }
            if (frames.Count == 0) continue;
            var f = tensor(frames.ToArray());
            var patchIndices = patches.ToArray();
            parts[0].Add(features[f, tensor(patchIndices)].DetachFromDisposeScope());
            parts[1].Add(Slotted(standard, f, patchIndices, standardPlaces).DetachFromDisposeScope());
            parts[2].Add(Slotted(compressed, f, patchIndices, compressedPlaces).DetachFromDisposeScope());
        }
        if (labels.Count == 0) throw new InvalidOperationException("No frame of the probe set carries text.");
        var vectors = parts.Select(list =>
        {
            var all = cat(list, 0);
            foreach (var t in list) t.Dispose();
            return all;
        }).ToArray();
        return new Patches(vectors, tensor(labels.ToArray()), [.. small]);
    }

    /// <summary>
    /// Each glyph patch's token from <paramref name="tokens"/> [frames, tokens, H], placed in the slot of the patch's
    /// place inside that token: [patches, places * H], so one linear probe holds one probe per place.
    /// </summary>
    private static Tensor Slotted(Tensor tokens, Tensor frames, long[] patches, TokenPlaces places)
    {
        var rows = tokens[frames, tensor(patches.Select(p => places.Token[p]).ToArray())];
        var oneHot = nn.functional.one_hot(tensor(patches.Select(p => places.Place[p]).ToArray()), places.PerToken).to(rows.dtype);
        return (oneHot.unsqueeze(-1) * rows.unsqueeze(1)).flatten(1);
    }

    /// <summary>Trains a linear probe on <paramref name="train"/>'s representation <paramref name="r"/> (standardised) and scores it on <paramref name="test"/>'s.</summary>
    private static GlyphProbeScore Probe(string name, Patches train, Patches test, int r, int seed, int epochs)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(seed);
        var x = train.Vectors[r];
        var mean = x.mean([0], keepdim: true);
        var std = x.std([0], keepdim: true) + 1e-4;
        var xs = (x - mean) / std;
        var probe = nn.Linear(x.shape[1], BitmapFont.Alphabet.Length);
        using var optimizer = new ScalarSafe.AdamW(probe.parameters(), learningRate: 1e-2, weightDecay: 1e-2);
        for (var epoch = 0; epoch < epochs; epoch++)
        {
            using var step = NewDisposeScope();
            optimizer.zero_grad();
            nn.functional.cross_entropy(probe.forward(xs), train.Labels).backward();
            optimizer.step();
        }
        using var _ = no_grad();
        var predicted = probe.forward((test.Vectors[r] - mean) / std).argmax(-1).data<long>().ToArray();
        var truth = test.Labels.data<long>().ToArray();
        double Accuracy(bool small, out int n)
        {
            var chosen = Enumerable.Range(0, truth.Length).Where(i => test.Small[i] == small).ToList();
            n = chosen.Count;
            return n == 0 ? double.NaN : chosen.Average(i => predicted[i] == truth[i] ? 1.0 : 0.0);
        }
        var smallAccuracy = Accuracy(true, out var smallCount);
        var largeAccuracy = Accuracy(false, out var largeCount);
        return new GlyphProbeScore(name, (int)x.shape[1], smallCount, smallAccuracy, largeCount, largeAccuracy);
    }
}
