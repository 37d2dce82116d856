using System.Text.Json.Nodes;
using Vireo.Testing;

namespace Vireo.Deploy.Tests;

/// <summary>
/// -p:TorchBackend selects the libtorch package of Vireo.Model: libtorch-cpu-linux-x64 by default (what CI builds),
/// TorchSharp-cuda-linux for the GPU image. Checked by evaluating the project, since the CUDA package is not
/// restored here.
/// </summary>
public sealed class TorchBackendTests
{
    private static readonly string Project = Path.Combine(Repository.Root, "grains", "Vireo.Model", "Vireo.Model.csproj");

    [Theory]
    [InlineData(null, "libtorch-cpu-linux-x64", "TorchSharp-cuda-linux")]
    [InlineData("cpu", "libtorch-cpu-linux-x64", "TorchSharp-cuda-linux")]
    [InlineData("cuda", "TorchSharp-cuda-linux", "libtorch-cpu-linux-x64")]
    public void TheSwitchSelectsTheLibtorchPackage(string? backend, string expected, string absent)
    {
        var references = Evaluate(backend, "PackageReference").Select(i => (string)i!["Identity"]!).ToList();
        Assert.Contains("TorchSharp", references);
        Assert.Contains(expected, references);
        Assert.DoesNotContain(absent, references);
    }

    [Fact]
    public void TheCudaPackageFollowsTorchSharpsVersion()
    {
        var versions = Evaluate("cuda", "PackageVersion").ToDictionary(i => (string)i!["Identity"]!, i => (string)i!["Version"]!);
        Assert.Equal(versions["TorchSharp"], versions["TorchSharp-cuda-linux"]);
    }

    [Fact]
    public void AnUnknownBackendFailsTheBuild()
    {
        var result = Tools.Run("dotnet", ["msbuild", Project, "-t:CheckTorchBackend", "-p:TorchBackend=rocm", "-nologo"]);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("it must be cpu or cuda", result.All);
    }

    private static JsonArray Evaluate(string? backend, string item)
    {
        string[] arguments = backend is null
            ? ["msbuild", Project, $"-getItem:{item}", "-nologo"]
            : ["msbuild", Project, $"-getItem:{item}", $"-p:TorchBackend={backend}", "-nologo"];
        var result = Tools.Run("dotnet", arguments);
        Assert.True(result.ExitCode == 0, result.All);
        return JsonNode.Parse(result.Output)!["Items"]![item]!.AsArray();
    }
}
