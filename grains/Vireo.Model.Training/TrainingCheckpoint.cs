using System.Text.Json;
using TorchSharp.Modules;
using Vireo.Model.Modules;

namespace Vireo.Model.Training;

/// <summary>
/// What a resumed run needs to continue exactly as if it had never stopped: the weights, the reading head, the
/// optimizer's state (AdamW moments and step counts) and where the run stands. It is written as one directory that
/// replaces the previous one by renames, so a crash leaves either the old checkpoint or the new one, never a mix.
/// </summary>
internal static class TrainingCheckpoint
{
    /// <summary>The directory under the run's output directory.</summary>
    public const string DirectoryName = "resume";

    public const string StateFile = "train_state.json";
    private const string OptimizerFile = "optimizer.bin";

    /// <summary>
    /// Replaces the checkpoint with the model just written to <paramref name="output"/> (copied, not serialised
    /// again) and the rest of the run's state. Without a reading head, the previous checkpoint's head is carried over.
    /// </summary>
    public static void Write(string output, TrainingState state, ReadingHead? head, OptimizerHelper? optimizer)
    {
        var (final, fresh, old) = Paths(output);
        if (Directory.Exists(fresh)) Directory.Delete(fresh, recursive: true);
        Directory.CreateDirectory(fresh);
        foreach (var file in new[] { VireoCheckpoint.WeightsFile, VireoCheckpoint.ConfigFile })
            File.Copy(Path.Combine(output, file), Path.Combine(fresh, file));
        var headPath = Path.Combine(fresh, ReadingHead.File);
        if (head is not null) VireoCheckpoint.SaveWeights(head, headPath);
        else if (File.Exists(Path.Combine(final, ReadingHead.File))) File.Copy(Path.Combine(final, ReadingHead.File), headPath);
        if (optimizer is not null)
        {
            using var writer = new BinaryWriter(File.Create(Path.Combine(fresh, OptimizerFile)));
            optimizer.save_state_dict(writer);
        }
        File.WriteAllText(Path.Combine(fresh, StateFile), JsonSerializer.Serialize(state, TrainingStateJsonContext.Default.TrainingState));
        if (Directory.Exists(final)) Directory.Move(final, old);
        Directory.Move(fresh, final);
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
    }

    /// <summary>
    /// The last complete checkpoint's directory, or null when there is none. A swap that a crash interrupted is
    /// rolled back to the previous checkpoint.
    /// </summary>
    public static string? Find(string output)
    {
        var (final, fresh, old) = Paths(output);
        if (!Directory.Exists(final) && Directory.Exists(old)) Directory.Move(old, final);
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
        if (Directory.Exists(fresh)) Directory.Delete(fresh, recursive: true);
        return Directory.Exists(final) ? final : null;
    }

    public static TrainingState ReadState(string directory) =>
        JsonSerializer.Deserialize(File.ReadAllText(Path.Combine(directory, StateFile)), TrainingStateJsonContext.Default.TrainingState)
        ?? throw new InvalidDataException($"{directory} holds no training state.");

    /// <summary>Loads the saved optimizer state into <paramref name="optimizer"/>; false when the checkpoint has none.</summary>
    public static bool RestoreOptimizer(string directory, OptimizerHelper optimizer)
    {
        var path = Path.Combine(directory, OptimizerFile);
        if (!File.Exists(path)) return false;
        using var reader = new BinaryReader(File.OpenRead(path));
        optimizer.load_state_dict(reader);
        return true;
    }

    private static (string Final, string Fresh, string Old) Paths(string output)
    {
        var final = Path.Combine(output, DirectoryName);
        return (final, final + ".new", final + ".old");
    }
}
