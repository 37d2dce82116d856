using System.ComponentModel.DataAnnotations;

namespace Vireo.Storage;

/// <summary>Postgres connection (configuration key ConnectionStrings:Postgres).</summary>
public sealed class StorageOptions
{
    [Required(ErrorMessage = "ConnectionStrings:Postgres is not set; on the local stack, source .state/stack.env")]
    public string ConnectionString { get; set; } = "";
}
