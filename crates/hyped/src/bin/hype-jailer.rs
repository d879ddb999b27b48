//! `hype-jailer`: puts one VMM into its jail (see `hype_vmm::jail`). hyped
//! runs it; it is not meant to be run by hand.

fn main() {
    std::process::exit(hype_vmm::jail::jailer_main())
}
