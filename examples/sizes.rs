fn main() {
    println!(
        "op {} trial {} dist {} pv {} attr {}",
        std::mem::size_of::<trialog::journal::Operation>(),
        std::mem::size_of::<trialog::FrozenTrial>(),
        std::mem::size_of::<trialog::Distribution>(),
        std::mem::size_of::<trialog::ParamValue>(),
        std::mem::size_of::<trialog::AttrValue>()
    );
}
