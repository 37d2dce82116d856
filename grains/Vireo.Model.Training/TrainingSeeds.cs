namespace Vireo.Model.Training;

/// <summary>
/// Seeds derived from a run's seed by a fixed function, so that batch k of stage s is the same frames in every
/// process. (<see cref="HashCode.Combine{T1, T2, T3}"/> is randomised per process, so it cannot be used here.)
/// </summary>
public static class TrainingSeeds
{
    /// <summary>The seed of one stream (a stage, or a per-step decision) at one step of a run.</summary>
    public static int Derive(int seed, int stream, int step)
    {
        var x = Mix((uint)seed);
        x = Mix(x ^ (uint)stream);
        x = Mix(x ^ (uint)step);
        return (int)(x >> 33);
    }

    /// <summary>SplitMix64's finaliser: every input bit reaches every output bit.</summary>
    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }
}
