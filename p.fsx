open System.IO
for dir in Directory.EnumerateDirectories("/proc") do
  let name = Path.GetFileName(dir)
  match System.Int32.TryParse(name) with
  | true, pid ->
     try
       let c = File.ReadAllText(Path.Combine(dir, "cmdline"))
       if c.Contains("7.777") then printfn "found %d %s" pid (c.Replace("\000"," "))
     with e -> printfn "err %s %s" name (e.GetType().Name)
  | _ -> ()
