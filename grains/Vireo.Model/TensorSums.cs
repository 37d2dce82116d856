using TorchSharp;
using static TorchSharp.torch;

namespace Vireo.Model;

/// <summary>
/// Tensor sums, out of place and in place, whose scalar factor libtorch can always read.
/// </summary>
/// <remarks>
/// TorchSharp's <c>a + b</c> calls <c>add(b, alpha)</c> with <c>alpha</c> a temporary <see cref="Scalar"/> made from 1
/// and hands libtorch only its handle; <c>a.add_(b)</c> does the same in place. Nothing keeps that wrapper alive
/// during the native call, so a garbage collection then can finalize it and free the value the kernel reads; a GPU
/// training run ended so in an RMS norm, with "Expected false to be true" from c10's Scalar accessor.
/// <see cref="Plus(Tensor, Tensor)"/> and <see cref="PlusInPlace(Tensor, Tensor)"/> pass a factor that lives as long
/// as the process, and give the same bits as <c>a + b</c> and <c>a.add_(b)</c>.
/// </remarks>
public static class TensorSums
{
    // Rooted by this static field for the whole process: never finalized, so never freed under a running kernel.
    private static readonly Scalar One = 1.ToScalar();

    /// <summary><paramref name="a"/> + <paramref name="b"/>, with a factor that cannot be freed mid-call.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary><paramref name="a"/> + <paramref name="b"/>; the caller keeps <paramref name="b"/> alive through the call.</summary>
    public static Tensor Plus(this Tensor a, Scalar b) => a.add(b, One);

    /// <summary>Adds <paramref name="b"/> to <paramref name="a"/> in place, with a factor that cannot be freed mid-call.</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary>Adds <paramref name="b"/> to <paramref name="a"/> in place; the caller keeps <paramref name="b"/> alive through the call.</summary>
    public static Tensor PlusInPlace(this Tensor a, Scalar b) => a.add_(b, One);
}
